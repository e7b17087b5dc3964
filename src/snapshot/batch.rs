//! A multi-statement round trip where an optional statement's failure costs only that statement.
//!
//! The server stops a multi-statement batch at its first error, so one refused optional read (a
//! session SET an old server does not know, a table the account may not SELECT) would lose every
//! statement after it. [`run`] sends the whole batch once and, only when a statement fails with a
//! server error, sends the rest again without it: the common path stays one round trip, and each
//! failure costs one more. A required statement's failure, or a lost connection, stops there.

use crate::connect::Connection;
use crate::exit::{AppError, ErrorKind, Stage};

/// What one statement's rows decoded to, or why the server did not send them.
pub type Decoded<T> = Result<T, AppError>;

/// Whether an error came from the server refusing one statement (the connection is still in
/// step), rather than from a lost or stalled connection: a missing privilege, or any other
/// error the server answered a statement with (it carries the server's code).
pub fn is_statement_error(e: &AppError) -> bool {
    match e.kind {
        ErrorKind::Privilege => true,
        ErrorKind::Other => e.stage == Some(Stage::Query) && e.code.is_some(),
        _ => false,
    }
}

/// Run `stmts`; `required(i)` says which statements may not fail, `decode(i, rows)` decodes
/// statement `i`'s rows as they are read. Returns one result per statement; after a required
/// statement fails (or the connection is lost) the rest carry that error.
pub fn run<T>(
    c: &mut Connection,
    stmts: &[String],
    required: impl Fn(usize) -> bool,
    mut decode: impl FnMut(usize, &mut dyn Iterator<Item = mysql::Row>) -> T,
    what: &str,
) -> Vec<Decoded<T>> {
    let mut out: Vec<Decoded<T>> = Vec::with_capacity(stmts.len());
    while out.len() < stmts.len() {
        let start = out.len();
        let got = c.batch(&stmts[start..], what, &mut |i, rows| {
            decode(start + i, rows)
        });
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

#[cfg(test)]
mod tests {
    use super::*;

    fn server_err(code: u16, message: &str) -> mysql::Error {
        mysql::Error::MySqlError(mysql::MySqlError {
            state: "42S02".into(),
            message: message.into(),
            code,
        })
    }

    /// Decided by the server's code and the stage, never by the message text.
    #[test]
    fn a_statement_error_is_a_server_code_on_a_query() {
        let refused = crate::connect::error::query_error(&server_err(1146, "no table"), "t", "w");
        assert!(is_statement_error(&refused));
        // Text that merely quotes an error code is no statement error.
        let quoted = AppError::new(ErrorKind::Other, "lost the connection (ERROR 1146)");
        assert!(!is_statement_error(&quoted));
        // A refusal while logging in is no statement error either.
        let login = crate::connect::error::connect_error(&server_err(1130, "host"), "t", "u");
        assert_eq!(login.code, Some(1130));
        assert!(!is_statement_error(&login));
        let lost = crate::connect::error::query_error(
            &mysql::Error::IoError(std::io::Error::from(std::io::ErrorKind::UnexpectedEof)),
            "t",
            "w",
        );
        assert!(!is_statement_error(&lost));
    }
}
