//! Printing a failure: `conncheck: error: <what happened>`, then `hint: <what to do>`, and the
//! exit code its kind maps to. `check` maps every failure to UNKNOWN (3) except a full server,
//! which is CRITICAL (2), as monitoring plugins must.

use std::io::Write;
use std::process::ExitCode;

use crate::exit::{self, ErrorKind};

/// Report an error from `run` and pick the exit code.
pub fn report(err: &anyhow::Error, is_check: bool) -> ExitCode {
    // `conncheck ... | head` closing the pipe is not a failure.
    if err
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    {
        return ExitCode::SUCCESS;
    }
    let kind = exit::kind_of(err);
    let (message, hint) = match exit::app_error(err) {
        Some(app) => {
            // Context added on top of the AppError goes first.
            let outer: Vec<String> = err
                .chain()
                .take_while(|e| e.downcast_ref::<exit::AppError>().is_none())
                .map(|e| e.to_string())
                .collect();
            let mut msg = outer.join(": ");
            if !msg.is_empty() {
                msg.push_str(": ");
            }
            msg.push_str(&app.message);
            (msg, app.hint.clone())
        }
        None => (
            err.chain()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(": "),
            None,
        ),
    };
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "conncheck: error: {message}");
    if let Some(h) = hint {
        let _ = writeln!(stderr, "hint: {h}");
    }
    ExitCode::from(code_for(kind, is_check))
}

/// Report a command-line parsing error (or print help/version, which are not errors).
pub fn clap_error(e: &clap::Error, is_check: bool) -> ExitCode {
    use clap::error::ErrorKind as K;
    if matches!(
        e.kind(),
        K::DisplayHelp | K::DisplayVersion | K::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == K::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(code_for(ErrorKind::Usage, is_check))
        } else {
            ExitCode::SUCCESS
        };
    }
    let _ = e.print();
    ExitCode::from(code_for(ErrorKind::Usage, is_check))
}

/// For a command line clap refused: whether it was meant as `check`, i.e. whether clap, parsing
/// as far as it can, lands in the `check` subcommand (`-u check status` is `status`).
pub fn is_check_attempt(args: &[std::ffi::OsString]) -> bool {
    use clap::CommandFactory;
    crate::cli::Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
        .ok()
        .is_some_and(|m| m.subcommand_name() == Some("check"))
}

/// The exit code for an error kind; `check` uses the monitoring-plugin codes.
pub fn code_for(kind: ErrorKind, is_check: bool) -> u8 {
    if is_check {
        match kind {
            ErrorKind::ServerFull => exit::nagios::CRITICAL,
            _ => exit::nagios::UNKNOWN,
        }
    } else {
        kind.exit_code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<std::ffi::OsString> {
        args.iter().map(Into::into).collect()
    }

    #[test]
    fn the_check_convention_follows_the_subcommand_not_a_word() {
        assert!(is_check_attempt(&os(&["conncheck", "check", "--bogus"])));
        assert!(is_check_attempt(&os(&[
            "conncheck",
            "-u",
            "x",
            "check",
            "--warning",
            "zz"
        ])));
        assert!(!is_check_attempt(&os(&[
            "conncheck",
            "-u",
            "check",
            "status",
            "--bogus"
        ])));
        assert!(!is_check_attempt(&os(&[
            "conncheck",
            "--url",
            "check",
            "status"
        ])));
        assert!(!is_check_attempt(&os(&["conncheck", "status", "--bogus"])));
    }

    #[test]
    fn check_uses_plugin_codes() {
        assert_eq!(code_for(ErrorKind::ServerFull, true), 2);
        assert_eq!(code_for(ErrorKind::Unreachable, true), 3);
        assert_eq!(code_for(ErrorKind::Usage, true), 3);
        assert_eq!(code_for(ErrorKind::Usage, false), exit::USAGE);
        assert_eq!(code_for(ErrorKind::ServerFull, false), exit::SERVER_FULL);
    }
}
