//! Decoding the rows the server sends into the snapshot's types: one function per row shape,
//! and the whole-result decoders the read plan (`plan`) pairs with each statement. Every value
//! is hostile input: a missing or malformed column decodes to a default or drops the row, never
//! a panic. Pure.

use std::borrow::Borrow;
use std::collections::{BTreeMap, HashMap};

use mysql::{Row, Value};

use super::model::{LockKind, LockWait, Session, Transaction};
use crate::units::float_to_u64;

/// Our own connection id and account (`SELECT CONNECTION_ID(), CURRENT_USER()`).
pub fn identity(rows: &[Row]) -> (u64, String) {
    rows.first()
        .map(|r| (num(r, 0).unwrap_or(0), text(r, 1).unwrap_or_default()))
        .unwrap_or_default()
}

/// The first column of every row, as text (rows where it is NULL are left out).
pub fn first_column<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| text(r.borrow(), 0))
        .collect()
}

/// Nothing: statements read for their effect (the session guards).
pub fn nothing<R>(_: impl IntoIterator<Item = R>) {}

/// The processlist as read from the flavor's precise source, a row at a time.
pub fn sessions(rows: &mut dyn Iterator<Item = Row>) -> Vec<Session> {
    rows.map(|r| session_from_owned_row(r, true)).collect()
}

/// The processlist as read with `SHOW FULL PROCESSLIST`, a row at a time: its columns after
/// Info (MariaDB's Progress, ...) are no precise ones and are not decoded.
pub fn show_sessions(rows: &mut dyn Iterator<Item = Row>) -> Vec<Session> {
    rows.map(|r| session_from_owned_row(r, false)).collect()
}

/// [`session_from_row`], moving the text columns out of the row instead of copying them (the
/// processlist is the one read with a row per session); the columns after Info only when
/// `precise`.
fn session_from_owned_row(mut r: Row, precise: bool) -> Session {
    let mut s = Session {
        id: num(&r, 0).unwrap_or(0),
        user: take_text(&mut r, 1).unwrap_or_default(),
        host: take_text(&mut r, 2).unwrap_or_default(),
        db: take_text(&mut r, 3),
        command: take_text(&mut r, 4).unwrap_or_default(),
        time_s: num(&r, 5).unwrap_or(0),
        state: take_text(&mut r, 6).unwrap_or_default(),
        info: take_text(&mut r, 7),
        info_truncated: false,
        time_ms: None,
        query_id: None,
        program: None,
        memory_bytes: None,
    };
    if precise {
        s.time_ms = num_f64(&r, 8).map(|f| crate::units::float_to_u64(f.max(0.0)));
        s.query_id = num(&r, 9);
        s.program = take_text(&mut r, 10);
        s.memory_bytes = num(&r, 11);
    }
    s
}

/// The open transactions (`INNODB_TRX`), and the lock each waiting one requested.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Transactions {
    /// Every row, ours included.
    pub list: Vec<Transaction>,
    /// trx id -> the id of the lock it waits for (`trx_requested_lock_id`): not kept in the
    /// snapshot, only used to attribute waiters beyond the bound on the lock rows.
    pub requested: HashMap<String, String>,
}

/// The rows of [`super::sql::TRX_SQL`].
pub fn transactions<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> Transactions {
    let mut t = Transactions::default();
    for r in rows {
        let r = r.borrow();
        if let (Some(trx), Some(lock)) = (text(r, 0), text(r, 8)) {
            t.requested.insert(trx, lock);
        }
        t.list.push(trx_from_row(r));
    }
    t
}

/// A `SHOW FULL PROCESSLIST` row (Id, User, Host, db, Command, Time, State, Info, then MariaDB's
/// Progress, which is not a time): the columns of [`session_from_row`] without the precise ones.
#[cfg(test)]
pub fn session_from_show_row(r: &Row) -> Session {
    Session {
        time_ms: None,
        query_id: None,
        program: None,
        memory_bytes: None,
        ..session_from_row(r)
    }
}

/// A processlist row in the column order of [`super::sql::processlist_sql`]: the `SHOW PROCESSLIST`
/// columns, then TIME_MS, QUERY_ID and the program name (NULL where a source has none).
pub fn session_from_row(r: &Row) -> Session {
    Session {
        id: num(r, 0).unwrap_or(0),
        user: text(r, 1).unwrap_or_default(),
        host: text(r, 2).unwrap_or_default(),
        db: text(r, 3),
        command: text(r, 4).unwrap_or_default(),
        time_s: num(r, 5).unwrap_or(0),
        state: text(r, 6).unwrap_or_default(),
        info: text(r, 7),
        info_truncated: false,
        time_ms: text(r, 8)
            .and_then(|t| t.parse::<f64>().ok())
            .map(float_to_u64),
        query_id: num(r, 9),
        program: text(r, 10),
        memory_bytes: num(r, 11),
    }
}

/// An `INNODB_TRX` row in the column order of [`super::sql::TRX_SQL`].
pub fn trx_from_row(r: &Row) -> Transaction {
    Transaction {
        trx_id: text(r, 0).unwrap_or_default(),
        session_id: num(r, 1).unwrap_or(0),
        state: text(r, 2).unwrap_or_default(),
        age_s: num(r, 3).unwrap_or(0),
        wait_s: num(r, 4),
        rows_modified: num(r, 5).unwrap_or(0),
        rows_locked: num(r, 6).unwrap_or(0),
        query: text(r, 7),
        query_truncated: false,
        autocommit_non_locking: num(r, 9) == Some(1),
    }
}

/// A lock wait already read as sessions: waiting id, blocking id, object, wait seconds.
pub fn lock_wait_from_row(r: &Row, kind: LockKind) -> Option<LockWait> {
    Some(LockWait {
        kind,
        waiting_id: num(r, 0)?,
        blocking_id: num(r, 1),
        object: text(r, 2).map(|o| o.replace('`', "")),
        wait_s: num(r, 3).unwrap_or(0),
    })
}

/// `SHOW VARIABLES`/`SHOW STATUS` rows as a lower-case name -> value map.
pub fn name_values<R: Borrow<Row>>(rows: impl IntoIterator<Item = R>) -> BTreeMap<String, String> {
    rows.into_iter()
        .filter_map(|r| {
            let r = r.borrow();
            Some((
                text(r, 0)?.to_ascii_lowercase(),
                text(r, 1).unwrap_or_default(),
            ))
        })
        .collect()
}

/// A column as text like [`text`], taken out of the row: valid UTF-8 bytes become the string
/// without a copy. The column reads as NULL afterwards.
pub fn take_text(r: &mut Row, i: usize) -> Option<String> {
    match r.as_ref(i)? {
        Value::Bytes(_) => match r.take::<Value, _>(i)? {
            Value::Bytes(b) => Some(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
            _ => None,
        },
        _ => text(r, i),
    }
}

/// A column as text (the text protocol sends everything as bytes).
pub fn text(r: &Row, i: usize) -> Option<String> {
    match r.as_ref(i)? {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::Int(n) => Some(n.to_string()),
        Value::UInt(n) => Some(n.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(f) => Some(f.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// A column as a float, parsed in place (TIME_MS: `1234.567`).
fn num_f64(r: &Row, i: usize) -> Option<f64> {
    match r.as_ref(i)? {
        Value::NULL => None,
        Value::Bytes(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
        Value::Int(n) => Some(*n as f64),
        Value::UInt(n) => Some(*n as f64),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Double(f) => Some(*f),
        _ => None,
    }
}

/// A column as an unsigned number (negative values clamp to 0).
pub fn num(r: &Row, i: usize) -> Option<u64> {
    match r.as_ref(i)? {
        Value::NULL => None,
        Value::Int(n) => Some(u64::try_from(*n).unwrap_or(0)),
        Value::UInt(n) => Some(*n),
        // Ids, times and counters: plain digits, read without a UTF-8 check or a trim (one per
        // column of 10,000 processlist rows); anything else takes the general parse below.
        Value::Bytes(b) if !b.is_empty() && b.len() <= 19 && b.iter().all(u8::is_ascii_digit) => {
            Some(b.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')))
        }
        Value::Bytes(b) => {
            let s = std::str::from_utf8(b).ok()?.trim();
            s.parse::<u64>()
                .ok()
                .or_else(|| s.parse::<i64>().ok().map(|n| u64::try_from(n).unwrap_or(0)))
                .or_else(|| s.parse::<f64>().ok().map(float_to_u64))
        }
        Value::Float(f) => Some(float_to_u64(f64::from(*f))),
        Value::Double(f) => Some(float_to_u64(*f)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mysql_common::constants::ColumnType;
    use mysql_common::packets::Column;

    use super::*;

    fn row(values: Vec<Value>) -> Row {
        let columns: Arc<[Column]> = values
            .iter()
            .map(|_| Column::new(ColumnType::MYSQL_TYPE_VAR_STRING))
            .collect();
        mysql_common::row::new_row(values, columns)
    }

    fn b(s: &[u8]) -> Value {
        Value::Bytes(s.to_vec())
    }

    /// The processlist decoded from owned rows is what the borrowing decoder gives, invalid
    /// UTF-8 and NULLs included.
    #[test]
    fn owned_rows_decode_like_borrowed_ones() {
        let values = vec![
            b(b"42"),
            b(b"app\xff"),
            b(b"localhost"),
            Value::NULL,
            b(b"Sleep"),
            b(b"7"),
            b(b""),
            Value::NULL,
            b(b"7012.5"),
            b(b"99"),
            b(b"worker"),
            b(b"4096"),
        ];
        let borrowed = session_from_row(&row(values.clone()));
        assert_eq!(borrowed.user, "app\u{fffd}");
        assert_eq!(borrowed.time_ms, Some(7012));
        assert_eq!(
            sessions(&mut vec![row(values.clone())].into_iter()),
            vec![borrowed.clone()]
        );
        let shown = show_sessions(&mut vec![row(values)].into_iter());
        assert_eq!(
            shown,
            vec![session_from_show_row(&borrowed_row_of(&borrowed))]
        );
    }

    /// A row as `SHOW FULL PROCESSLIST` would give the same session.
    fn borrowed_row_of(s: &Session) -> Row {
        let t = |v: &str| b(v.as_bytes());
        let o = |v: &Option<String>| v.as_deref().map_or(Value::NULL, t);
        row(vec![
            t(&s.id.to_string()),
            t(&s.user),
            t(&s.host),
            o(&s.db),
            t(&s.command),
            t(&s.time_s.to_string()),
            t(&s.state),
            o(&s.info),
        ])
    }

    #[test]
    fn numbers_read_as_digits_or_parsed_alike() {
        let r = row(vec![
            b(b"0"),
            b(b"9999999999999999999"),
            b(b"18446744073709551615"),
            b(b"99999999999999999999"),
            b(b" 7 "),
            b(b"-5"),
            b(b"1.9"),
            b(b""),
            b(b"12a"),
        ]);
        let got: Vec<Option<u64>> = (0..9).map(|i| num(&r, i)).collect();
        assert_eq!(
            got,
            [
                Some(0),
                Some(9_999_999_999_999_999_999),
                Some(u64::MAX),
                Some(u64::MAX), // past u64: the float parse clamps
                Some(7),
                Some(0),
                Some(1),
                None,
                None,
            ]
        );
    }

    #[test]
    fn take_text_moves_bytes_and_keeps_null_and_numbers() {
        let mut r = row(vec![b(b"abc"), Value::NULL, Value::Int(-3), b(b"\xc3")]);
        assert_eq!(take_text(&mut r, 0).as_deref(), Some("abc"));
        assert_eq!(take_text(&mut r, 0), None, "taken");
        assert_eq!(take_text(&mut r, 1), None);
        assert_eq!(take_text(&mut r, 2).as_deref(), Some("-3"));
        assert_eq!(take_text(&mut r, 3).as_deref(), Some("\u{fffd}"));
        assert_eq!(take_text(&mut r, 9), None);
    }
}
