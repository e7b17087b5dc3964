//! A multi-statement round trip where an optional statement's failure costs only that statement.
//!
//! The server stops a multi-statement batch at its first error, so one refused optional read (a
//! session SET an old server does not know, a table the account may not SELECT) would lose every
//! statement after it. [`run`] sends the whole batch once and, only when a statement fails with a
//! server error, sends the rest again without it: the common path stays one round trip, and each
//! failure costs one more. A required statement's failure, or a lost connection, stops there.

use crate::connect::Connection;
use crate::exit::{AppError, ErrorKind};

/// The rows of one statement, or why the server did not send them.
pub type RowsResult = Result<Vec<mysql::Row>, AppError>;

/// One result per statement, in order.
pub type Results = Vec<RowsResult>;

/// Whether an error came from the server refusing one statement (the connection is still in
/// step), rather than from a lost or stalled connection.
pub fn is_statement_error(e: &AppError) -> bool {
    match e.kind {
        ErrorKind::Privilege => true,
        ErrorKind::Other => e.message.contains("(ERROR "),
        _ => false,
    }
}

/// Run `stmts`; `required(i)` says which statements may not fail. Returns one result per
/// statement; after a required statement fails (or the connection is lost) the rest carry that
/// error.
pub fn run(
    c: &mut Connection,
    stmts: &[String],
    required: impl Fn(usize) -> bool,
    what: &str,
) -> Results {
    let mut out: Results = Vec::with_capacity(stmts.len());
    while out.len() < stmts.len() {
        let start = out.len();
        let got = c.batch(&stmts[start..], what);
        let failed = got.iter().position(Result::is_err);
        match failed {
            None => {
                out.extend(got);
            }
            Some(i) => {
                let mut got = got.into_iter();
                out.extend(got.by_ref().take(i));
                let err = got.next().expect("the failed result");
                let retry = !required(start + i) && err.as_ref().is_err_and(is_statement_error);
                out.push(err);
                if !retry {
                    out.extend(got);
                    break;
                }
            }
        }
    }
    out
}
