//! The session table: one way to write a session's cells, shared by `sessions`, by the sessions
//! a finding lists and by kill plans (which add their `why` column). The field list a table
//! shows is [`SessionLine`], a view over a [`Session`] and its transaction: as the snapshot has
//! them, or embedded in the report's [`SessionRow`] and the plan's [`Victim`].

use std::borrow::Cow;

use crate::remedy::plan::Victim;
use crate::render;
use crate::report::sessions::SessionRow;
use crate::snapshot::{Session, Transaction};
use crate::text::{self, escape, prose};

/// One session as the tables show it.
pub struct SessionLine<'a> {
    pub id: u64,
    pub user: &'a str,
    pub host: &'a str,
    pub db: Option<&'a str>,
    pub command: &'a str,
    pub time_s: u64,
    pub state: &'a str,
    pub trx_age_s: Option<u64>,
    pub trx_rows_modified: Option<u64>,
    pub info: Option<&'a str>,
}

impl<'a> SessionLine<'a> {
    /// A processlist row with its open transaction, if it has one.
    pub fn of_session(s: &'a Session, trx: Option<&Transaction>) -> Self {
        Self::with_trx(s, trx.map(|t| t.age_s), trx.map(|t| t.rows_modified))
    }

    fn with_trx(s: &'a Session, trx_age_s: Option<u64>, trx_rows_modified: Option<u64>) -> Self {
        SessionLine {
            id: s.id,
            user: &s.user,
            host: &s.host,
            db: s.db.as_deref(),
            command: &s.command,
            time_s: s.time_s,
            state: &s.state,
            trx_age_s,
            trx_rows_modified,
            info: s.info.as_deref(),
        }
    }
}

impl<'a> From<&'a SessionRow<'_>> for SessionLine<'a> {
    fn from(s: &'a SessionRow<'_>) -> Self {
        Self::with_trx(s.session, s.trx_age_s, s.trx_rows_modified)
    }
}

impl<'a> From<&'a Victim> for SessionLine<'a> {
    fn from(v: &'a Victim) -> Self {
        Self::with_trx(&v.session, v.trx_age_s, v.trx_rows_modified)
    }
}

/// How a table writes the query text.
#[derive(Debug, Clone, Copy)]
pub enum Info {
    /// On one line, cut to this many characters (the table may cut it further).
    Snippet(usize),
    /// Whole, line breaks kept (`sessions --full`).
    Prose,
}

/// How a table writes the cells.
#[derive(Debug, Clone, Copy)]
pub struct Cells {
    /// Cut user, host, db, command and state to these many characters on one line (kill
    /// plans); None writes them whole, escaped.
    pub cut: Option<[usize; 5]>,
    /// Follow a transaction's age with the rows it modified.
    pub trx_rows: bool,
    pub info: Info,
}

impl<'a> SessionLine<'a> {
    /// id, user, host, db, command, time, state, transaction, query: every server string made
    /// terminal-safe (any database user controls them). Text that is safe already is borrowed:
    /// 10,000 rows would copy 50,000 strings.
    pub fn cells(&self, how: &Cells) -> Vec<Cow<'a, str>> {
        let texts = [
            self.user,
            self.host,
            self.db.unwrap_or_default(),
            self.command,
            self.state,
        ];
        let [user, host, db, command, state] = match how.cut {
            Some(max) => std::array::from_fn(|i| Cow::Owned(text::snippet(texts[i], max[i]))),
            None => texts.map(escape),
        };
        let trx = self.trx_age_s.map_or(Cow::Borrowed(""), |age| {
            Cow::Owned(if how.trx_rows {
                format!(
                    "{} ({} rows)",
                    render::secs(age),
                    self.trx_rows_modified.unwrap_or(0)
                )
            } else {
                render::secs(age)
            })
        });
        let info = match how.info {
            Info::Snippet(n) => render::snippet(self.info, n),
            Info::Prose => prose(self.info.unwrap_or_default()).into_owned(),
        };
        vec![
            Cow::Owned(itoa::Buffer::new().format(self.id).to_string()),
            user,
            host,
            db,
            command,
            Cow::Owned(render::secs(self.time_s)),
            state,
            trx,
            Cow::Owned(info),
        ]
    }
}
